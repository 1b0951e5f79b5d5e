"""@triton.jit kernels only (fast attribution backend)."""
