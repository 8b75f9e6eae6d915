import pytest

from pulseboard.config import ConfigError, config_from_env


def test_defaults_use_the_local_broker():
    config = config_from_env({})
    assert config.uses_local_broker
    assert config.bootstrap_servers == "127.0.0.1:19092"
    assert config.kafka.topic("indicators") == "indicators"


def test_environment_and_overrides():
    config = config_from_env(
        {"PULSEBOARD_BOOTSTRAP": "k1:9092,k2:9093", "PULSEBOARD_TOPIC_PREFIX": "env-"},
        topic_prefix="flag-",
    )
    assert not config.uses_local_broker
    assert config.bootstrap_servers == "k1:9092,k2:9093"
    assert config.kafka.topic("freight.events") == "flag-freight.events"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PULSEBOARD_BOOTSTRAP": "nohostport"}, "is not host:port"),
        ({"PULSEBOARD_BOOTSTRAP": "k:99999"}, "is not host:port"),
        ({"PULSEBOARD_SECURITY_PROTOCOL": "TLS"}, "must be one of"),
        ({"PULSEBOARD_SECURITY_PROTOCOL": "SASL_SSL"}, "PULSEBOARD_SASL_MECHANISM"),
        (
            {
                "PULSEBOARD_SECURITY_PROTOCOL": "SASL_SSL",
                "PULSEBOARD_SASL_MECHANISM": "SCRAM-SHA-512",
            },
            "PULSEBOARD_SASL_USERNAME",
        ),
        ({"PULSEBOARD_SSL_CAFILE": "/nonexistent/ca.pem"}, "does not exist"),
        ({"PULSEBOARD_FREIGHT_PARTITIONS": "0"}, "must be >= 1"),
        ({"PULSEBOARD_FREIGHT_PARTITIONS": "six"}, "is not an integer"),
        ({"PULSEBOARD_KAFKA_PORT": "80"}, "out of range"),
        ({"PULSEBOARD_REPLICATION_FACTOR": "3"}, "local broker has one node"),
    ],
)
def test_wrong_settings_fail_fast_with_what_to_fix(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        config_from_env(env)


def test_sasl_settings_are_accepted_and_password_hidden():
    config = config_from_env(
        {
            "PULSEBOARD_BOOTSTRAP": "k:9094",
            "PULSEBOARD_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "PULSEBOARD_SASL_MECHANISM": "SCRAM-SHA-256",
            "PULSEBOARD_SASL_USERNAME": "wall",
            "PULSEBOARD_SASL_PASSWORD": "s3cret",
        }
    )
    assert "s3cret" not in repr(config)
    from pulseboard.kafka_client import client_kwargs

    kwargs = client_kwargs(config, "t")
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["sasl_plain_password"] == "s3cret"


def test_one_shot_tools_give_up_after_30_s_unless_told_otherwise():
    from pulseboard.connect import ONE_SHOT_TIMEOUT_S, one_shot

    assert config_from_env({}).connect_timeout_s is None  # services: for ever
    assert one_shot(config_from_env({})).connect_timeout_s == ONE_SHOT_TIMEOUT_S == 30.0
    told = config_from_env({"PULSEBOARD_CONNECT_TIMEOUT": "0"})
    assert one_shot(told).connect_timeout_s == 0.0
