// The parts of OpenVINO's C API that EdgeInsight calls, declared here (written for this
// project from the API's documented behaviour) so that building needs no OpenVINO: the
// library is opened with dlopen at run time and each symbol cast to one of these types.
// Every object handle is opaque (`void *`); only structs passed by value are spelled out.
#ifndef EDGEINSIGHT_COPENVINOTYPES_H
#define EDGEINSIGHT_COPENVINOTYPES_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// A static shape: rank and a pointer to `rank` dimensions (allocated by ov_shape_create).
typedef struct {
    int64_t rank;
    int64_t *dims;
} ei_ov_shape;

// One dimension as an interval; a static dimension has min == max, a dynamic one max == -1.
typedef struct {
    int64_t min;
    int64_t max;
} ei_ov_dimension;

// A shape whose rank and dimensions may be dynamic.
typedef struct {
    ei_ov_dimension rank;
    ei_ov_dimension *dims;
} ei_ov_partial_shape;

// Completion callback of an asynchronous infer request.
typedef struct {
    void (*callback)(void *context);
    void *context;
} ei_ov_callback;

typedef struct {
    const char *build_number;
    const char *description;
} ei_ov_version;

// Element type codes as OpenVINO 2026.4 numbers them (read off the library: a model with an
// input of each ONNX type, its port's type queried). Tests check f32 and u8 against the
// library, so a renumbering upstream fails loudly instead of silently.
enum {
    EI_OV_BOOLEAN = 1, EI_OV_BF16 = 2, EI_OV_F16 = 3, EI_OV_F32 = 4, EI_OV_F64 = 5,
    EI_OV_I8 = 7, EI_OV_I16 = 8, EI_OV_I32 = 9, EI_OV_I64 = 10,
    EI_OV_U8 = 16, EI_OV_U16 = 17, EI_OV_U32 = 18, EI_OV_U64 = 19
};

// Status: 0 is success; anything else is an error, explained by ov_get_last_err_msg.
typedef int32_t (*ei_fn_get_version)(ei_ov_version *version);
typedef void (*ei_fn_version_free)(ei_ov_version *version);
typedef const char *(*ei_fn_last_error)(void);
typedef void (*ei_fn_free_string)(const char *text);

typedef int32_t (*ei_fn_core_create)(void **core);
typedef void (*ei_fn_free)(void *object);
typedef int32_t (*ei_fn_core_read_model)(const void *core, const char *model_path, const char *weights_path, void **model);
typedef int32_t (*ei_fn_core_compile_model_props)(const void *core, const void *model, const char *device,
                                                   size_t property_pairs, const char *const *properties, void **compiled);

typedef int32_t (*ei_fn_count)(const void *object, size_t *count);
typedef int32_t (*ei_fn_port_by_index)(const void *object, size_t index, void **port);
typedef int32_t (*ei_fn_port_name)(const void *port, char **name);
typedef int32_t (*ei_fn_port_element_type)(const void *port, int32_t *type);
typedef int32_t (*ei_fn_port_partial_shape)(const void *port, ei_ov_partial_shape *shape);
typedef void (*ei_fn_partial_shape_free)(ei_ov_partial_shape *shape);
typedef int32_t (*ei_fn_partial_shape_create)(int64_t rank, const ei_ov_dimension *dims, ei_ov_partial_shape *shape);
typedef int32_t (*ei_fn_model_reshape_by_port_indexes)(const void *model, const size_t *port_indexes,
                                                        const ei_ov_partial_shape *shapes, size_t count);

typedef int32_t (*ei_fn_ppp_create)(const void *model, void **ppp);
typedef int32_t (*ei_fn_ppp_input_info_by_index)(const void *ppp, size_t index, void **input_info);
typedef int32_t (*ei_fn_ppp_get_tensor_info)(const void *input_info, void **tensor_info);
typedef int32_t (*ei_fn_ppp_set_element_type)(void *tensor_info, int32_t type);
typedef int32_t (*ei_fn_ppp_build)(const void *ppp, void **model);

typedef int32_t (*ei_fn_compiled_get_property)(const void *compiled, const char *key, char **value);
typedef int32_t (*ei_fn_create_infer_request)(const void *compiled, void **request);

typedef int32_t (*ei_fn_request_tensor_by_index)(const void *request, size_t index, void **tensor);
typedef int32_t (*ei_fn_request_run)(void *request);
typedef int32_t (*ei_fn_request_set_callback)(void *request, const ei_ov_callback *callback);

typedef int32_t (*ei_fn_tensor_data)(const void *tensor, void **data);
typedef int32_t (*ei_fn_tensor_byte_size)(const void *tensor, size_t *bytes);
typedef int32_t (*ei_fn_tensor_shape)(const void *tensor, ei_ov_shape *shape);
typedef int32_t (*ei_fn_shape_free)(ei_ov_shape *shape);
// Gives a tensor a new static shape (reallocating its memory); the shape is read, not kept.
typedef int32_t (*ei_fn_tensor_set_shape)(void *tensor, ei_ov_shape shape);

#endif
