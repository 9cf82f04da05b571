# SPDX-License-Identifier: Apache-2.0
"""WSGI entry point for uWSGI and mod_wsgi.

``uwsgi --http :8779 --module sgconductor.api.wsgi:application`` serves
the API with the configuration files named in the environment variable
SGCONDUCTOR_CONFIG_FILES (comma-separated), or else sgconductor.conf in
the usual places (see ``sgconductor-api --help``).
"""

import os

from sgconductor.api import app
from sgconductor.cmd import common

CONFIG_FILES_VARIABLE = 'SGCONDUCTOR_CONFIG_FILES'


def init_application():
    files = [path for path in os.environ.get(
        CONFIG_FILES_VARIABLE, '').split(',') if path]
    common.load_config(files, [])
    common.setup_logging()
    return app.build_app()


application = init_application()
