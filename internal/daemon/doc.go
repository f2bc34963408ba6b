// Package daemon is zstor's monitor daemon and its local API: a store
// opened once and served over HTTP/1.1 on a unix socket (mode 0600), so
// that command-line calls and front ends share one process holding the
// metadata store's lock. Front ends that serve on their own (the S3
// gateway) run inside the daemon instead, on its client:
// MonitorOptions.Services. This package does not import them; the command
// line wires them in.
//
// # API
//
// (Also in docs/cli.md, "The daemon's socket API".)
//
// Object keys are one path segment, every byte but [A-Za-z0-9_~-]
// percent-encoded (so "/a/b" is %2Fa%2Fb). Bodies stream both ways;
// nothing is buffered whole.
//
//	GET    /v1/ping                      {"service":"zstor","version":...,"pid":...}
//	PUT    /v1/objects/KEY               body: the object; X-Zstor-Meta-NAME: user metadata
//	                                     -> ObjectJSON
//	GET    /v1/objects/KEY?offset=&length=
//	                                     -> the bytes; object headers (below);
//	                                        X-Zstor-Length: bytes in this body
//	HEAD   /v1/objects/KEY               -> object headers
//	DELETE /v1/objects/KEY               -> 204
//	GET    /v1/list?prefix=&after=       -> JSON lines, one ObjectJSON each
//	POST   /v1/check/KEY                 -> CheckJSON
//	POST   /v1/rebuild/KEY               -> ObjectJSON
//	GET    /v1/status                    -> [BackendJSON, ...]
//	POST   /v1/recover                   -> {"restored":N}
//	POST   /v1/sweep?grace=1h            -> SweepJSON
//	GET    /health                       -> HealthSummaryJSON; 200 while the store
//	                                        serves, else 503 (also on the metrics address)
//	GET    /v1/health?refresh=true       -> HealthJSON
//	GET    /v1/queue?limit=N             -> QueueJSON
//	POST   /v1/repair-all?progress=true  -> JSON lines: {"progress": RepairJSON}...,
//	                                        then {"report": RepairAllJSON}
//	POST   /v1/scrub?rate=&after=&progress=true
//	                                     -> JSON lines: {"progress": ScrubJSON}...,
//	                                        then {"report": ScrubJSON}
//	POST   /v1/audit                     -> AuditJSON
//	POST   /v1/backends/ID/drain         -> DrainJSON (ID escaped like a key)
//	POST   /v1/backends/ID/undrain       -> DrainJSON
//	POST   /v1/reload                    -> ReloadJSON: the daemon re-read its config file
//	POST   /v1/log/verify                -> LogJSON
//
// Object headers: X-Zstor-Size, X-Zstor-Modified (RFC 3339), X-Zstor-
// Checksum, X-Zstor-Version, X-Zstor-K, X-Zstor-M, X-Zstor-Blocks and one
// X-Zstor-Meta-NAME per user metadata entry (name: lower-case letters,
// digits and '-' kept, every other byte percent-encoded; value: printable
// ASCII but '%' kept).
//
// Errors are {"error": "...", "kind": K} with K one of not_found,
// invalid, unavailable, bad_key, corrupt, closed, conflict, canceled,
// internal, and an HTTP status to match (404, 400, 503, 403, 422, 503,
// 409, 499, 500); the
// same JSON, percent-encoded, is in the X-Zstor-Error header (HEAD has no
// body). The Client maps each kind back to zstor's sentinel error, so
// errors.Is works through the daemon. A GET whose object fails after the
// reply started ends its body early with the error in the X-Zstor-Error
// trailer; a listing that fails mid-way ends with an error line. A
// streamed reply (repair-all, scrub) always ends with its report line,
// which carries the error (error, kind) when the work failed: a reply cut
// before it is an error at the client.
package daemon
