# SPDX-License-Identifier: Apache-2.0
"""Options of the ``[api]`` group: sgconductor-api, the os-services REST
API (see doc/api.rst)."""

from oslo_config import cfg

GROUP = cfg.OptGroup('api', title='REST API options')

HTTP_BASIC = 'http_basic'
KEYSTONE = 'keystone'
NOAUTH = 'noauth'

opts = [
    cfg.HostAddressOpt(
        'host_ip',
        default='127.0.0.1',
        help='Address sgconductor-api listens on. Under uWSGI or mod_wsgi '
             '(sgconductor.api.wsgi:application) the server\'s own '
             'setting applies instead.'),
    cfg.PortOpt(
        'port',
        default=8779,
        help='TCP port sgconductor-api listens on (see host_ip).'),
    cfg.StrOpt(
        'auth_strategy',
        default=HTTP_BASIC,
        choices=[
            (HTTP_BASIC, 'HTTP basic authentication against the bcrypt '
                         'htpasswd file [oslo_middleware] '
                         'http_basic_auth_user_file; roles from '
                         'http_basic_roles'),
            (KEYSTONE, 'keystone tokens, checked by keystonemiddleware '
                       '([keystone_authtoken]); install sgconductor['
                       'keystone]'),
            (NOAUTH, 'no authentication: every request is an admin\'s. '
                     'Only for a test bed.'),
        ],
        help='How requests are authenticated. The version documents at / '
             'and /v2.1/ need no credentials, as in Nova.'),
    cfg.DictOpt(
        'http_basic_roles',
        default={},
        help='Role of each htpasswd user, as user:role pairs (e.g. '
             '"ops:admin,monitor:reader"); the policy decides what a role '
             'may do. Users not listed get http_basic_default_role.'),
    cfg.StrOpt(
        'http_basic_default_role',
        default='reader',
        help='Role of an htpasswd user not listed in http_basic_roles: '
             'by default they may list services, not change them.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
