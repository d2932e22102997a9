"""One module per RPC: each takes the immutable Config and a request message
and returns a response message or raises PaysigError. No gRPC here."""
