"""Adapters: public data sets turned into forestock's table contracts."""

from forestock.adapters.stallion import stallion_tables

__all__ = ["stallion_tables"]
