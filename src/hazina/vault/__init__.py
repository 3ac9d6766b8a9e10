"""The credentials vault: an AES-256-GCM key ring implementing services.ports.SecretBox."""
