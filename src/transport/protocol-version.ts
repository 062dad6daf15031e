// The peer protocol's version numbers: which this konsul speaks, which it still
// accepts. A leaf (no imports), so `konsul version` prints them without the codec.

/**
 * The newest protocol version this konsul speaks (peer frames and state-machine
 * commands). A hello's `version` is the dialer's newest; the listener's HelloOk
 * answers with its own newest, and the link runs at the lower of the two, which
 * must be one both speak (MIN_PROTOCOL_VERSION..PROTOCOL_VERSION here).
 *
 * Version 1 (konsul 0.1, the first release) knew only exact matches: its
 * listener refuses any hello whose version is not 1, with reason
 * ProtocolVersion. A dialer of version 2 or newer that is refused so dials again
 * with version 1, and a version-1 hello (or HelloOk) means "speaks version 1
 * only". The hello layout itself is unchanged since version 1, so every
 * release can read every other release's hello.
 *
 * Version 2: state-machine commands inside a versioned envelope, the
 * replicated cluster protocol version (see src/state/command.ts).
 */
export const PROTOCOL_VERSION = 2;
/** The oldest protocol version this konsul still speaks. */
export const MIN_PROTOCOL_VERSION = 1;
/** The version the first release spoke, the only one its listener accepts. */
export const LEGACY_PROTOCOL_VERSION = 1;
