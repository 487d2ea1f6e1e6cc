"""Channel normalizers: each provider's native webhook payload -> canonical contacts.

One module per provider family. Each exposes a pure `normalize(request: RawRequest, config:
ChannelConfig) -> Normalization` that verifies the provider's signature, parses the provider's
documented format and returns what to do: emit new contacts, update an earlier one, ignore it, or
reject it with a reason code. No I/O: the gateway and `guardia normalize` call the same code.
"""
