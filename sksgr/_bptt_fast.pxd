# Declarations of the kernels' enumerations, shared by C and Python: the
# kernels compare with these names, and _bptt_fast exposes the members as
# module attributes (_bptt_fast.HEAD_SOFTMAX, ...), which the estimators and
# the training loop pass back.

cpdef enum Head:
    HEAD_SOFTMAX = 0    # softmax cross-entropy on one-hot targets
    HEAD_IDENTITY = 1   # half squared error on real targets

cpdef enum Selection:
    SELECT_MINIBATCH = 0  # the regularization judges whole minibatches (Algorithm 1)
    SELECT_EXAMPLE = 1    # it judges each sequence of a minibatch

cpdef enum Solver:
    SOLVER_SGD = 0   # SGD with (Nesterov) momentum; state: velocity (n_params,)
    SOLVER_ADAM = 1  # Adam (Kingma & Ba 2015); state: [m, s, t] (2 n_params + 1,)

cpdef enum Pool:
    # how the readout summarises a sequence's hidden states z(0..n-1); a readout
    # is up to three of these, concatenated, coded as p0 + 4 p1 + 16 p2 (0 ends)
    POOL_LAST = 1  # z at the sequence's own last step (the paper's eq. 1)
    POOL_MEAN = 2  # the mean over its real steps
    POOL_MAX = 3   # the maximum over its real steps, unit by unit

cpdef enum DSMode:
    DS_LINEAR = 0  # dS with the activations held fixed (the paper's Lemma 1)
    DS_EXACT = 1   # the exact first-order change (tangent forward pass)

cpdef enum Steer:
    STEER_DS = 0  # the rule steers the long-term norm S by dS (the paper)
    STEER_DQ = 1  # it steers Q by its first-order change

# The settings structs, mirrored one to one (same field names) by the Python
# dataclasses sksgr._network.Optimizer and sksgr._network.SGRSettings; the
# kernel receives them as dicts, which Cython converts (every field required).

cdef struct Optimizer:
    int solver             # SOLVER_SGD or SOLVER_ADAM
    double learning_rate
    double momentum        # SGD
    bint nesterov          # SGD
    double beta_1          # Adam
    double beta_2          # Adam
    double epsilon         # Adam

cdef struct SGRSettings:
    int selection          # SELECT_MINIBATCH or SELECT_EXAMPLE
    int ds_mode            # DS_LINEAR or DS_EXACT
    double q_min           # the safe range of Q
    double q_max
    double ds_max          # cap on |dS| relative to S; 0: none
    Py_ssize_t q_depth     # steps back where S is measured; 0: whole sequences
    int max_skips          # guard: consecutive skips before the best rejected is applied; 0: none
    bint ds_momentum       # dS along the step with the momentum term (SGD)
    int steer              # STEER_DS or STEER_DQ
