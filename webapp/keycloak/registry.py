"""Keeps one gateway (and so one token) per connection configuration for the life of the process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import Flask, current_app

from .gateway import KeycloakGateway
from .types import ConnectionSettings

GatewayFactory = Callable[[ConnectionSettings], KeycloakGateway]
EXTENSION_KEY = "keycloak_gateways"
DEFAULT_SIZE = 128


class GatewayRegistry:
    """At most `size` gateways; the least recently used configuration is dropped first, so a stream of
    settings edits cannot pile up connections (each holds a token and a connection pool)."""

    def __init__(self, factory: GatewayFactory, size: int = DEFAULT_SIZE) -> None:
        self._factory = factory
        self._size = max(1, size)
        self._gateways: OrderedDict[ConnectionSettings, KeycloakGateway] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._gateways)

    def get(self, settings: ConnectionSettings) -> KeycloakGateway:
        # Settings are the key: editing an offering's connection yields a fresh gateway with a fresh
        # token, while every request for an unchanged configuration reuses the same one.
        with self._lock:
            gateway = self._gateways.get(settings)
            if gateway is None:
                gateway = self._factory(settings)
                self._gateways[settings] = gateway
                while len(self._gateways) > self._size:
                    self._gateways.popitem(last=False)
            else:
                self._gateways.move_to_end(settings)
            return gateway

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def gateway_for(settings: ConnectionSettings) -> KeycloakGateway:
    registry: GatewayRegistry = current_app.extensions[EXTENSION_KEY]
    return registry.get(settings)
