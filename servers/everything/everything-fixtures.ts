/**
 * Shared binary fixtures for the `everything` conformance server.
 *
 * These are plain base64 string constants (no Buffer, no node:fs) so the same
 * module runs unchanged in Node and in Cloudflare workerd. The conformance
 * suite only checks that image/audio content carries data and the right MIME
 * type, but the payloads below are nevertheless valid files so that real
 * clients can render them.
 */

/** A valid 1x1 red RGBA PNG (image/png), base64-encoded. */
export const TEST_IMAGE_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A valid 46-byte WAV (audio/wav: PCM, mono, 8 kHz, 16-bit, one silent sample), base64-encoded. */
export const TEST_AUDIO_WAV_BASE64 = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==';
