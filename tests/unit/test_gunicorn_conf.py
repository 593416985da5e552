"""The API processes' gunicorn settings, read the way gunicorn reads them."""

import gc

from gunicorn.config import Config

from shared import gunicorn_conf


def _gunicorn_config() -> Config:
    config = Config()
    for name in dir(gunicorn_conf):
        if name in config.settings:
            config.set(name, getattr(gunicorn_conf, name))
    return config


def test_each_worker_hides_its_loaded_application_from_the_garbage_collector():
    config = _gunicorn_config()
    assert config.post_worker_init is gunicorn_conf.post_worker_init  # a hook gunicorn knows by this name
    try:
        config.post_worker_init(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
