# SPDX-License-Identifier: Apache-2.0
import filecmp
import os

import pytest
from oslo_config import generator
from oslo_policy import generator as policy_generator

from sgconductor import exception
from sgconductor.conf import opts
from sgconductor.conf import validate

ETC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    __file__))), 'etc', 'sgconductor')


@pytest.mark.parametrize('generate,generator_conf,sample,tox_env', [
    (generator.main, 'sgconductor-config-generator.conf',
     'sgconductor.conf.sample', 'genconfig'),
    (policy_generator.generate_sample, 'sgconductor-policy-generator.conf',
     'policy.yaml.sample', 'genpolicy'),
])
def test_samples_are_in_sync_with_the_code(tmp_path, generate,
                                           generator_conf, sample, tox_env):
    output = tmp_path / sample
    generate(['--config-file', os.path.join(ETC, generator_conf),
              '--output-file', str(output)])
    assert filecmp.cmp(str(output), os.path.join(ETC, sample),
                       shallow=False), (
        'etc/sgconductor/%s is stale; regenerate it with: tox -e %s'
        % (sample, tox_env))


def test_list_opts_names_every_group():
    groups = {getattr(g, 'name', g) for g, _ in opts.list_opts()}
    assert groups == {'DEFAULT', 'api', 'conductor', 'servicegroup',
                      'zookeeper', 'upgrade_levels'}
    for _, group_opts in opts.list_opts():
        for opt in group_opts:
            assert opt.help, '%s has no help text' % opt.name


def test_good_config_passes(conf):
    validate.check_all(conf.conf)


@pytest.mark.parametrize('section,line,option', [
    ('DEFAULT', 'report_interval = often', '[DEFAULT] report_interval'),
    ('DEFAULT', 'service_down_time = 0', '[DEFAULT] service_down_time'),
    ('servicegroup', 'driver = carrier-pigeon', '[servicegroup] driver'),
    ('conductor', 'workers = -2', '[conductor] workers'),
    ('upgrade_levels', 'conductor = 9.9', '[upgrade_levels] conductor'),
    ('upgrade_levels', 'version_cache_ttl = -1',
     '[upgrade_levels] version_cache_ttl'),
])
def test_bad_value_is_named(conf, tmp_path, section, line, option):
    path = tmp_path / 'bad.conf'
    path.write_text('[%s]\n%s\n' % (section, line))
    name = line.split(' =')[0]
    conf.conf.clear_override(name, group=None if section == 'DEFAULT'
                             else section)
    conf.conf(['--config-file', str(path)], project='sgconductor')
    with pytest.raises(exception.ConfigInvalid) as info:
        validate.check_all(conf.conf)
    assert str(info.value).startswith(
        'Invalid configuration value for %s' % option)
