"""JSON schemas of the custom resources the chart creates, limited to the fields it writes.

kubernetes-validate knows only Kubernetes' own kinds. These cover the operators' kinds from their API
references (Prometheus Operator monitoring.coreos.com/v1, RabbitMQ Cluster Operator rabbitmq.com/v1beta1,
CloudNativePG postgresql.cnpg.io/v1). Unknown fields are rejected, so a misspelt or misplaced field fails
here as it would be dropped or refused by the operator's CRD.
"""

from __future__ import annotations

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
QUANTITY = {"type": ["string", "integer", "number"]}
LABEL_NAME = {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"}
RESOURCES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"requests": {"type": "object", "additionalProperties": QUANTITY},
                   "limits": {"type": "object", "additionalProperties": QUANTITY}},
}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matchLabels": STRING_MAP, "matchExpressions": {"type": "array"}},
}


def closed(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": list(required)}


RELABEL_CONFIG = closed({
    "sourceLabels": {"type": "array", "items": LABEL_NAME},
    "separator": STRING,
    "targetLabel": STRING,
    "regex": STRING,
    "modulus": {"type": "integer"},
    "replacement": STRING,
    "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap",
                        "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase",
                        "uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual"]},
})

SERVICE_MONITOR = closed({
    "jobLabel": STRING,
    "targetLabels": STRINGS,
    "podTargetLabels": STRINGS,
    "selector": LABEL_SELECTOR,
    "namespaceSelector": closed({"any": {"type": "boolean"}, "matchNames": STRINGS}),
    "endpoints": {"type": "array", "minItems": 1, "items": closed({
        "port": STRING,
        "path": STRING,
        "scheme": {"enum": ["http", "https"]},
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"},
        "honorTimestamps": {"type": "boolean"},
        "relabelings": {"type": "array", "items": RELABEL_CONFIG},
        "metricRelabelings": {"type": "array", "items": RELABEL_CONFIG},
    })},
}, required=("selector", "endpoints"))

RULE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "record": STRING, "alert": STRING, "expr": {"type": ["string", "integer"]}, "for": DURATION,
        "keep_firing_for": DURATION, "labels": STRING_MAP, "annotations": STRING_MAP,
    },
    "required": ["expr"],
    "oneOf": [{"required": ["record"], "not": {"required": ["alert"]}},
              {"required": ["alert"], "not": {"required": ["record"]}}],
}
PROMETHEUS_RULE = closed({
    "groups": {"type": "array", "items": closed({
        "name": {"type": "string", "minLength": 1},
        "interval": DURATION,
        "limit": {"type": "integer"},
        "rules": {"type": "array", "items": RULE},
    }, required=("name", "rules"))},
}, required=("groups",))

RABBITMQ_CLUSTER = closed({
    "replicas": {"type": "integer", "minimum": 0},
    "image": STRING,
    "imagePullSecrets": {"type": "array"},
    "service": {"type": "object"},
    "persistence": closed({"storageClassName": STRING, "storage": QUANTITY}),
    "resources": RESOURCES,
    "affinity": {"type": "object"},
    "tolerations": {"type": "array"},
    "rabbitmq": closed({"additionalConfig": STRING, "advancedConfig": STRING, "envConfig": STRING,
                        "additionalPlugins": STRINGS}),
    "tls": {"type": "object"},
    "override": {"type": "object"},
    "skipPostDeploySteps": {"type": "boolean"},
    "terminationGracePeriodSeconds": {"type": "integer"},
    "delayStartSeconds": {"type": "integer"},
    "secretBackend": {"type": "object"},
})

POSTGRES_CLUSTER = closed({
    "description": STRING,
    "instances": {"type": "integer", "minimum": 1},
    "imageName": STRING,
    "storage": closed({"size": QUANTITY, "storageClass": STRING, "resizeInUseVolumes": {"type": "boolean"},
                       "pvcTemplate": {"type": "object"}}),
    "walStorage": {"type": "object"},
    "resources": RESOURCES,
    "bootstrap": closed({
        "initdb": closed({"database": STRING, "owner": STRING, "secret": closed({"name": STRING}),
                          "encoding": STRING, "localeCollate": STRING, "localeCType": STRING}),
        "recovery": {"type": "object"},
        "pg_basebackup": {"type": "object"},
    }),
    "postgresql": closed({"parameters": STRING_MAP, "pg_hba": STRINGS, "shared_preload_libraries": STRINGS}),
    "backup": {"type": "object"},
    "plugins": {"type": "array"},
    "monitoring": {"type": "object"},
    "affinity": {"type": "object"},
    "managed": {"type": "object"},
    "enableSuperuserAccess": {"type": "boolean"},
    "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
    "primaryUpdateMethod": {"enum": ["switchover", "restart"]},
})

# (apiVersion, kind) -> schema of spec
SPECS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): RABBITMQ_CLUSTER,
    ("postgresql.cnpg.io/v1", "Cluster"): POSTGRES_CLUSTER,
}
