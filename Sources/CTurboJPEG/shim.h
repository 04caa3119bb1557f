// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev), used only by the Imaging module.
#include <turbojpeg.h>
