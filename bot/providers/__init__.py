"""One module per cloud. Only this package imports boto3, azure or requests.

`get_provider` imports a provider module on first use, so commands that never reach a cloud
(`triage diagnose`) do not pay for azure.ai.ml (about 1 s) or boto3.

Every provider has the same shape:

    Provider(target, settings, **overrides)   # overrides are test seams: session=, client=, s3_client=, …
    .ids(name=None)  -> a dataclass with to_json()
    .failures()      -> list[bot.failures.Failure], each already diagnosed
    .probe()         -> str: one cheap read call; raises a CloudError naming what is not allowed
    .names()         -> list[str]: the projects (Azure ML: online endpoints) there are now, by the
                        name `ids` takes; one list call (the Slack project picker)

and may have, for the watcher (read after `failures()`, from what that call already fetched):

    .watch_markers() -> list[Failure] with the identity of a failure that is no longer listed:
                        details["recovered_by"] says what fixed it (a failed deployment provisioned
                        again), details["in_progress"] that it is being retried (still failing until
                        it settles, so its alert is neither recovered nor posted again)
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from bot.errors import InputError
from bot.failures import Failure

PROVIDERS: dict[str, tuple[str, str]] = {
    "customvision": ("bot.providers.customvision", "CustomVisionProvider"),
    "azureml": ("bot.providers.azureml", "AzureMLProvider"),
    "rekognition": ("bot.providers.rekognition", "RekognitionProvider"),
}
"""Service name -> (module, class). The service names match the triage.toml sections."""


class Provider(Protocol):
    def ids(self, name: str | None = None) -> Any: ...

    def failures(self) -> list[Failure]: ...

    def probe(self) -> str: ...

    def names(self) -> list[str]: ...


def get_provider(service: str, target: Any, settings: Any, **overrides: Any) -> Provider:
    """The provider for `service`, built for one configured target."""
    if service not in PROVIDERS:
        raise InputError(f"unknown service {service!r}", hint=f"use one of: {', '.join(PROVIDERS)}")
    module_name, class_name = PROVIDERS[service]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(target, settings, **overrides)
