# SPDX-License-Identifier: Apache-2.0
"""The storage contract of sgconductor, as the conductor sees it.

``get_instance()`` returns the backend chosen by ``[database] backend``
(only ``sqlalchemy`` exists); its functions are documented in
``db/sqlalchemy/api.py``. Only the conductor writes through it.
"""

from oslo_config import cfg
from oslo_db import api as oslo_db_api

# Outcomes of service_upsert.
CREATED = 'created'
UPDATED = 'updated'
DELETED = 'deleted'

_BACKEND_MAPPING = {'sqlalchemy': 'sgconductor.db.sqlalchemy.api'}

_IMPL = oslo_db_api.DBAPI.from_config(
    cfg.CONF, backend_mapping=_BACKEND_MAPPING, lazy=True)


def get_instance():
    return _IMPL
