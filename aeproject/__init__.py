"""Read an After Effects XML project (.aepx) into plain data, without After Effects.

Modules: ``xmlstream`` (a streaming, byte-offset-keeping XML reader with remap's safety rules), ``chunks`` (the binary
chunk layouts: comp, item, layer, footage and render-queue data), ``cos`` (the text-layer ``btdk`` dictionaries that
name fonts), ``model`` (the plain data), ``reader`` (``read_project``: file -> model), ``sequences`` (what an image
sequence on disk is), ``footage`` (where footage resolves on a node after mapping).
"""
