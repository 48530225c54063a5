"""hocba: the national platform for primary-school digital school records (học bạ số)."""
