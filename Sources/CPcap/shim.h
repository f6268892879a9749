// libpcap for SwarmProbeCapture, the only module that imports CPcap.
#ifndef SWARMPROBE_CPCAP_SHIM_H
#define SWARMPROBE_CPCAP_SHIM_H

#include <pcap/pcap.h>

#endif
