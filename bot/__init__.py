"""taxbot: review-and-release bot for community-grown LLM taxonomies."""
