# SPDX-License-Identifier: Apache-2.0
"""Version of the code and of the service it reports.

SERVICE_VERSION is an integer that a reporter sends with every report; the
conductor stores it and answers get_min_version/get_max_version from it, so
a deployment can tell which nodes still run old code during a rolling
upgrade. Bump it, by adding an entry to SERVICE_VERSION_HISTORY, whenever a
service gains behaviour that peers depend on, and whenever the conductor
RPC API gains a version.
"""

import pbr.version

# Index: a service version. Value: what code of that version speaks, so a
# client that knows the oldest conductor's service version knows which
# conductor RPC version it may send ([upgrade_levels] conductor = auto).
SERVICE_VERSION_HISTORY = (
    # Version 0: a service that does not say which version it runs.
    {'conductor_rpc': '1.0'},
    # Version 1: register_service, report_state, service_get_all,
    # service_update, service_delete, get_min_version, get_max_version.
    {'conductor_rpc': '1.0'},
    # Version 2: service_get_all takes down_for. Conductors register
    # themselves as sgconductor-conductor, so clients can cap their RPC
    # version from the oldest running conductor.
    {'conductor_rpc': '1.1'},
    # Version 3: service_purge.
    {'conductor_rpc': '1.2'},
    # Version 4: service_update and service_delete by uuid or id (what
    # sgconductor-api needs for Nova's os-services).
    {'conductor_rpc': '1.3'},
    # Version 5: get_service_stats (sgconductor-api's /metrics).
    {'conductor_rpc': '1.4'},
    # Version 6: register_service takes sent_at, the sender's clock.
    {'conductor_rpc': '1.5'},
    # Version 7: register_service is also served on the registrations
    # topic.
    {'conductor_rpc': '1.6'},
)

SERVICE_VERSION = len(SERVICE_VERSION_HISTORY) - 1

# The oldest service version this code still serves: the conductor refuses
# registrations and reports of older services (ServiceTooOld), and
# ``sgconductor-status upgrade check`` fails while one is running. Raise it
# only in a release after every service has run a version that is at
# least the new value (one release of overlap, as OpenStack upgrades go).
OLDEST_SUPPORTED_SERVICE_VERSION = 1

# [upgrade_levels] conductor may name a release instead of an RPC version:
# the conductor RPC version that release's conductors speak.
CONDUCTOR_RPC_ALIASES = {
    '2026.2': '1.0',
}

version_info = pbr.version.VersionInfo('sgconductor')


def version_string():
    return version_info.version_string()


def conductor_rpc_versions():
    """Every conductor RPC version in the history, oldest first."""
    return list(dict.fromkeys(
        entry['conductor_rpc'] for entry in SERVICE_VERSION_HISTORY))


def conductor_rpc_version(service_version):
    """The conductor RPC version code of ``service_version`` speaks; code
    newer than this one is taken to speak at least what this one does."""
    return SERVICE_VERSION_HISTORY[
        min(service_version, SERVICE_VERSION)]['conductor_rpc']
