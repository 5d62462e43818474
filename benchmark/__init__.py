"""cxr-sr-bench: does super-resolving a low-resolution chest X-ray change the diagnosis?"""

__version__ = "0.1.0"
