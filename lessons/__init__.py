"""Lessons: Vietnamese step-by-step content as YAML data, validated by pydantic."""
