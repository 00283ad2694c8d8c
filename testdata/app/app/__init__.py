"""Fixture app for warmbuild's tests: a small service that depends on the local index's packages."""
