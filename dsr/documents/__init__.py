"""The documents kept with a request (R44-R46): the letter or email it came in, a representative's
mandate, the proof of parental authority, an identity document. Each is sealed in the store
(`dsr.sealing.SecretBox`, its own purpose), read by staff only, and its content deleted when it
has served (an identity document once its check is recorded) or when the request is minimised."""
