package server

// Replies whose exact text 0-db clients match on (docs/0db-protocol.md).
// They are sent as "-<text>", without Redis's "ERR " prefix, as 0-db does.
var (
	errNSTooLong    error = wireError("Namespace too long")
	errNSNotAllowed error = wireError("This name is not allowed")
	errNSExists     error = wireError("This namespace is not available")
	errNSNotFound   error = wireError("Namespace not found")
	errNSCreate     error = wireError("Could not create namespace")
	errNSDelete     error = wireError("Could not delete this namespace")
)

// wireError is an error whose text is sent to clients as it is.
type wireError string

func (e wireError) Error() string { return string(e) }

const (
	msgUnexpectedArgs = "Unexpected arguments"
	msgInvalidArg     = "Invalid argument"
	msgMissingArgs    = "Missing arguments"
	msgInvalidArgs    = "Invalid arguments"
	msgPermission     = "Permission denied"
	msgFrozen         = "Namespace is temporarily frozen (read-write disabled)"
	msgLocked         = "Namespace is temporarily locked (read-only)"
	msgReadOnly       = "Namespace is in read-only mode"
	msgUnknownCommand = "Command not supported"
	msgKeyTooLarge    = "Key too large"
	msgInvalidKey     = "Invalid key"
	msgKeyNotFound    = "Key not found"
	msgNoSpace        = "No space left on this namespace"
	msgWormOverwrite  = "Namespace is protected by worm mode"
	msgWormDelete     = "Cannot delete a key when namespace is in worm mode"
	msgSeqUpdateOnly  = "Invalid key, only update authorized"
	msgKeyNeeded      = "Invalid argument, key needed"
	msgNoMoreData     = "No more data"
	msgInternal       = "Internal Error"
	msgCorrupt        = "Data corrupted"
	msgWriteFailed    = "Cannot write data right now"
	msgAccessDenied   = "Access denied"
	msgAuthDisabled   = "Authentication disabled"
	msgOnlySecure     = "Only SECURE extra method supported"
	msgNoChallenge    = "No CHALLENGE requested, secure authentication not available"
	msgHashLength     = "Invalid hash length"
	msgNSGone         = "Your active namespace is not available anymore (probably removed)."
	msgInvalidCursor  = "Invalid key format"
	msgPayloadTooBig  = "Payload too big"
	msgInvalidLeaf    = "Invalid leaf index" // PROOF, ours
)
