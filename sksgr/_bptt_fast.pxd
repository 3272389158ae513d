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
