// Fake credentials, assembled at run time so that no complete token sits in the source (and no secret scanner
// mistakes these fixtures for leaks). None of them is a live credential.
const j = (...parts: string[]): string => parts.join('');

export const SECRETS: Readonly<Record<string, string>> = {
  'secret.aws_access_key': j('AKIA', 'IOSFODNN7', 'EXAMPLE'),
  'secret.openai_key': j('sk-', 'proj-', 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z', 'T3BlbkFJ', 'a1B2c3D4e5F6g7H8'),
  'secret.anthropic_key': j('sk-', 'ant-', 'api03-', 'Xy7Zq2Lm9Np4Rs6Tu8Vw1Ab3Cd5Ef0Gh', 'Ij2Kl4Mn6Op8Qr0St2Uv4Wx6Yz8aB0cD2eF4gH6iJ8kL0', '-AAAAAAA'),
  'secret.github_token': j('ghp_', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'),
  'secret.slack_token': j('xoxb-', '123456789012-', '1234567890123-', 'AbCdEfGhIjKlMnOpQrStUvWx'),
  'secret.google_api_key': j('AIza', 'SyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW'),
  'secret.stripe_key': j('sk_', 'live_', '51H8aBcDeFgHiJkLmNoPqRsTuVwXyZ012345'),
  'secret.jwt': j(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9',
    '.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ',
    '.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  ),
  'secret.connection_string': j('postgres://', 'app_user:', 'S3cr3t-Pa55', '@db.internal.example.com:5432/orders'),
  'secret.private_key': j(
    '-----BEGIN ', 'RSA PRIVATE KEY', '-----\n',
    'MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n',
    '-----END ', 'RSA PRIVATE KEY', '-----',
  ),
};

export const CARDS = [
  '4111111111111111', // Visa
  '4111 1111 1111 1111',
  '4111-1111-1111-1111',
  '4222222222222', // Visa, 13 digits
  '5555555555554444', // Mastercard
  '5555 5555 5555 4444',
  '2223003122003222', // Mastercard 2-series
  '378282246310005', // Amex
  '3782 822463 10005', // Amex 4-6-5
  '6011111111111117', // Discover
  '36227206271667', // Diners, 14 digits
  '3622 720627 1667', // Diners 4-6-4
  '3566002020360505', // JCB
  '6200000000000005', // UnionPay
  '4111111111111111110', // Visa, 19 digits
  '4111 1111 1111 1111 110',
];

export const IBANS = [
  'DE89370400440532013000',
  'DE89 3704 0044 0532 0130 00',
  'GB82WEST12345698765432',
  'GB82 WEST 1234 5698 7654 32',
  'FR1420041010050500013M02606',
  'NL91ABNA0417164300',
  'BE68539007547034',
  'CH9300762011623852957',
  'NO9386011117947',
  'IT60X0542811101000000123456',
  'MT84MALT011000012345MTLCAST001S',
];

/** Texts that look numeric or id-like and must not be flagged as cards, IBANs, SSNs or phones. */
export const NEAR_MISSES = [
  'The quick brown fox jumps over the lazy dog; nothing here is sensitive at all.',
  'Upgrade from version 1.2.3.4 to 10.21.3 and then v2.0.0-rc.1 before Friday.',
  'Released on 2024-01-15, patched on 15/01/2024 and again on 01.02.2024.',
  'Timestamp 2024-01-15T10:30:00.123Z and epoch 1700000000 and 1700000000123 ms.',
  'Request id 550e8400-e29b-41d4-a716-446655440000 and 12345678-1234-5678-1234-567812345678.',
  'Order ORD-2024-000123 and invoice INV-20240115-0042 were merged.',
  'Commit 3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e and short sha 3f4e5d6.',
  'Hosts 10.0.0.12, 192.168.1.20 and 255.255.255.0; port 8080; IPv6 fe80::1ff:fe23:4567:890a.',
  'A sixteen digit number failing Luhn: 4111111111111112 and 1234567812345678.',
  'Amounts 1,234,567.89 and 1 234 567 and 3.14159265358979 and 6.02214076e23.',
  'const MAX = 9007199254740991; const seed = 1234567890; let x = a + 12345678;',
  'for (let i = 0; i < 1024; i += 16) { buf[i] = 0x7f; } // 100000 iterations',
  'SELECT * FROM t WHERE id IN (101, 102, 103) AND created_at > 1700000000;',
  'Call me maybe, at noon; the meeting id is 987654321 and the room is 42.',
  'ISBN 978-3-16-148410-0, DOI 10.1000/182, and phone-like 12:30:45.',
  'base64 aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Q= and hex 0xdeadbeefcafebabe',
  'Python 3.11.4, Node 20.18.0, CUDA 12.4, torch==2.3.1+cu121',
  'GRADLE 8.5 BUILD 20231129140857 and ABCD1234EFGH5678IJKL as a part number.',
];
