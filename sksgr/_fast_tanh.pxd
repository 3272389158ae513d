# Vectorisable tanh (see _fast_tanh.h for the method and its accuracy).
from cython cimport floating


cdef extern from "_fast_tanh.h" nogil:
    double sksgr_tanh(double x)
    void sksgr_tanh_inplace_d(double *x, Py_ssize_t n)
    void sksgr_tanh_inplace_f(float *x, Py_ssize_t n)


cdef inline void tanh_inplace(floating *x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        sksgr_tanh_inplace_f(x, n)
    else:
        sksgr_tanh_inplace_d(x, n)
