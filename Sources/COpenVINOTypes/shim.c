// Header-only target: see include/COpenVINOTypes.h.
