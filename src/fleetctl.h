/*
 * src/fleetctl.h — `geovipctl --fleet`: shed, drain, health, undo and
 * overrides as keys under the config's `fleet.prefix` in etcd, which
 * every geovipd of the fleet watches.
 */
#ifndef GEOVIP_FLEETCTL_H
#define GEOVIP_FLEETCTL_H

/**
 * Runs the fleet command argv[0..argc) against the etcd of config (a
 * path); timeout_s bounds each request. Returns geovipctl's exit status.
 */
int fleetctl_main(const char *config, int timeout_s, int argc, char **argv);

#endif
