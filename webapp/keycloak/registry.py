"""Keeps one gateway (and so one token) per connection configuration for the life of the process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask, current_app

from .gateway import KeycloakGateway
from .types import ConnectionSettings

GatewayFactory = Callable[[ConnectionSettings], KeycloakGateway]
EXTENSION_KEY = "keycloak_gateways"


class GatewayRegistry:
    def __init__(self, factory: GatewayFactory) -> None:
        self._factory = factory
        self._gateways: dict[ConnectionSettings, KeycloakGateway] = {}
        self._lock = threading.Lock()

    def get(self, settings: ConnectionSettings) -> KeycloakGateway:
        # Settings are the key: editing an offering's connection yields a fresh gateway with a fresh
        # token, while every request for an unchanged configuration reuses the same one.
        with self._lock:
            gateway = self._gateways.get(settings)
            if gateway is None:
                gateway = self._factory(settings)
                self._gateways[settings] = gateway
            return gateway

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self


def gateway_for(settings: ConnectionSettings) -> KeycloakGateway:
    registry: GatewayRegistry = current_app.extensions[EXTENSION_KEY]
    return registry.get(settings)
