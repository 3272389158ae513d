"""The one door to the compiled kernel: network sizes, readout, head and the kernel calls."""

from . import _bptt_fast

# The readout's pools, by name, as the kernel codes them.
POOLS = {"last": _bptt_fast.POOL_LAST, "mean": _bptt_fast.POOL_MEAN, "max": _bptt_fast.POOL_MAX}


def readout_code(readout):
    """The kernel's code of a readout: a tuple of pool names, in feature order."""
    return sum(POOLS[name] * 4**i for i, name in enumerate(readout))
