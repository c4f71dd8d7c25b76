"""Names vulture cannot see used, for `make lint`'s dead-code check (vulture, confidence 60).

Each group says who uses the names. Vulture matches by name only, so `_.name` stands for any
attribute called `name`. This file is never imported.
"""

# ruff: noqa: B018, F821
# mypy: ignore-errors

# pydantic: the model configuration, and catalog response fields the operator parses (so a
# wrong type fails the response) without reading them.
_.model_config
_.subject_pat_name
_.subject_controller_name
_.subject_external_identity_slug
_.library_name
_.pipeline_tag
_.base_model
_.infer_method_name
_.inputs
_.outputs
_.model_filepath
_.serialization_format
_.model_schema
_.usage_code_snippet
_.run_steps
# model validators (api/modelcatalogsync.py: MetricBound, Pin), called by pydantic
_._one_bound
_._exactly_one

# Enum members: values the catalog API and the CRDs define, reached by value, not by name.
_.LATEST
_.TENSORFLOW
_.SKLEARN
_.PYTORCH
_.KERAS
_.XGBOOST
_.LIGHTGBM
_.FASTAI
_.H2O
_.ONNX
_.SPACY
_.STATSMODELS
_.GLUON
_.PADDLE
_.USER
_.TEAM
_.SERVICEACCOUNT
_.VIRTUALACCOUNT
_.EXTERNAL_IDENTITY
_.AGENT_IDENTITY
_.ROLE
_.SENTENCE_TRANSFORMERS
_.DIFFUSERS
_.CLOUDPICKLE
_.JOBLIB
_.PICKLE
_.PREDICT
_.PREDICT_PROBA
_.DELETE
_.INCONSISTENT_LISTING

# CRD and status names the CRD-agreement and API tests check against crds/ and the wire models.
_.CATEGORY
_.SINGULAR_SYNC
_.SHORT_NAME_SYNC
_.SINGULAR_MODELREF
_.SHORT_NAME_MODELREF
_.REASON_PROGRESSING
_.models_listed
_.version_changed_at
_.would_remove
_.to_k8s_patch

# Settings objects of libraries, written by attribute: re2 options, Kopf settings, the
# Kubernetes client configuration.
_.log_errors
_.never_capture
_.enabled
_.ultimate_exiting_timeout
_.reconnect_backoff
_.diffbase_storage
_.connection_pool_maxsize
_.user_agent

# Protocol methods and hooks called by libraries: httpcore's network backend, the
# python-json-logger formatter hook, the __aexit__ arguments, a module __getattr__.
_.connect_unix_socket
# Kopf's DiffBaseStorage interface (cli/kopf_main.py _NoDiffBase).
_.build
_.process_log_record
_.exc_type
_.tb
_.__getattr__

# Read-only views the tests assert through (operator side: the per-catalog gates).
_.catalogs_tracked
_.catalog_users
# (the sync loop and the named-model refresh)
_.refreshes
_.due
_.outcome_of

# The sandbox's own API for tests, the benchmark and the docs: the sandbox is a test world, so
# what only tests call is still its interface.
_.api_url
_.auth_headers
_.running_in_thread
_.at
_.tenant
_.expire_watches
_.evaluate_jsonpath
_.reset_stats
_.validate_value
_.is_structural
_.prune
_.apply_defaults
_.apply_structural_schema
_.label_selector_from_dict
_.DEFAULT_FIELD_LABELS
_.matching
_.total_writes

# PyYAML: a loader's hook that render.py's strict loader overrides (duplicate keys).
_.construct_mapping

# logging: a LogRecord's cached stack text, cleared with its exc_info (runtime/logs.py).
_.exc_text

# The sandbox API server's fault injection, armed by the tests (tests/operator, tests/sandbox_kube).
_.fail
