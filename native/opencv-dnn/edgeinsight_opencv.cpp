// EdgeInsight's C interface to OpenCV's DNN module (Debian's libopencv-dev), so that Swift can load
// it at run time with dlopen like OpenVINO: scripts/setup builds it into
// .deps/opencv-dnn/libedgeinsight_opencv.so, and a machine without OpenCV gets a one-line error
// instead of a binary that cannot start. Every function catches what OpenCV throws and reports it
// as text; none lets a C++ exception cross into Swift.
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct ei_cv_net {
    cv::dnn::Net net;
    std::vector<cv::String> names;
    std::vector<cv::Mat> outputs;
};

static void report(const char *what, char *error, size_t size) {
    if (error && size) std::snprintf(error, size, "%s", what);
}

extern "C" {

const char *ei_cv_version(void) { return CV_VERSION; }

void ei_cv_set_threads(int threads) { cv::setNumThreads(threads); }

int ei_cv_threads(void) { return cv::getNumThreads(); }

// Reads a model (ONNX, TFLite where the build supports it) for the CPU backend; NULL on failure.
ei_cv_net *ei_cv_read(const char *path, char *error, size_t size) {
    try {
        auto *n = new ei_cv_net();
        n->net = cv::dnn::readNet(path);
        if (n->net.empty()) {
            delete n;
            report("OpenCV read no layers from the file", error, size);
            return nullptr;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        n->names = n->net.getUnconnectedOutLayersNames();
        return n;
    } catch (const std::exception &e) {
        report(e.what(), error, size);
        return nullptr;
    }
}

void ei_cv_free(ei_cv_net *n) { delete n; }

// Runs the net on one FP32 input of `rank` dimensions (read, not kept); the outputs stay in the net
// until the next run. 0 on success.
int ei_cv_forward(ei_cv_net *n, const float *input, const int *dims, int rank, char *error, size_t size) {
    try {
        cv::Mat blob(rank, dims, CV_32F, const_cast<float *>(input));
        n->net.setInput(blob);
        n->net.forward(n->outputs, n->names);
        for (auto &m : n->outputs) {
            if (!m.isContinuous() || m.type() != CV_32F) {
                cv::Mat converted;
                m.convertTo(converted, CV_32F);
                m = converted.isContinuous() ? converted : converted.clone();
            }
        }
        return 0;
    } catch (const std::exception &e) {
        report(e.what(), error, size);
        return -1;
    }
}

int ei_cv_outputs(const ei_cv_net *n) { return static_cast<int>(n->outputs.size()); }

// The output's dimensions into `dims` (at most `max_rank`); returns its rank.
int ei_cv_output_shape(const ei_cv_net *n, int index, int *dims, int max_rank) {
    const cv::Mat &m = n->outputs.at(index);
    for (int i = 0; i < m.dims && i < max_rank; i++) dims[i] = m.size[i];
    return m.dims;
}

const float *ei_cv_output_data(const ei_cv_net *n, int index) { return n->outputs.at(index).ptr<float>(); }

const char *ei_cv_output_name(const ei_cv_net *n, int index) { return n->names.at(index).c_str(); }
}
