// libmosquitto (Debian's libmosquitto-dev): the MQTT client library of the Eclipse Mosquitto
// project, used only by the Broker module.
#include <mosquitto.h>
#include <mqtt_protocol.h>
