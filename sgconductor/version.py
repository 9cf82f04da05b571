"""Version of the code and of the service it reports.

SERVICE_VERSION is an integer that a reporter sends with every report; the
conductor stores it and answers get_min_version/get_max_version from it, so
a deployment can tell which nodes still run old code during a rolling
upgrade. Bump it whenever a service gains behaviour that peers depend on.

History:

* 1 - Initial version: register_service, report_state, service_get_all,
      service_update, service_delete, get_min_version, get_max_version
      (conductor RPC API 1.0).
"""

import pbr.version

SERVICE_VERSION = 1

version_info = pbr.version.VersionInfo('sgconductor')


def version_string():
    return version_info.version_string()
