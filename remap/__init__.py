"""Path mapping: rules, one-path mapping, byte-exact project conversion and project scans."""
