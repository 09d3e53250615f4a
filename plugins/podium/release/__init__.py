"""Whole-application releases, as pure logic: a YAML release spec (``podium.release.spec``: every problem
of a file at once, each with its path and line:column), the service graph (``podium.release.graph``)
and the plan's decisions (``podium.release.plan``). :mod:`podium.dagbuilders.release` turns a
validated release into one dependency-ordered rollout DAG per environment.
"""
