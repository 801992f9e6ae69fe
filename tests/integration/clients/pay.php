<?php
/*
 * A payment script of the kind shops run against a panel's admin API v2
 * (the public ones are PHP with curl): it adds (or deducts) a payment for
 * a user and reads the new balance from data.user.balance.
 *
 *   php pay.php BASE_URL API_KEY USERNAME AMOUNT [--method=M] [--memo=TEXT]
 *               [--external-id=REF] [--idempotency-key=REF]
 *               [--form | --multipart] [--number] [--deduct]
 *
 * The body is JSON (json_encode, Content-Type: application/json) unless
 * --form (http_build_query) or --multipart (an array given to
 * CURLOPT_POSTFIELDS: curl sends multipart/form-data); --number sends
 * AMOUNT as a PHP number (json_encode writes a JSON number).
 *
 * Prints one JSON line {"http","error_code","error_message","payment_id",
 * "balance","duplicate"}; exits 0 when error_code is 0, 1 on an API error,
 * 2 when there is no usable answer.
 */
$pos = [];
$opt = [];
foreach (array_slice($argv, 1) as $a) {
    if (substr($a, 0, 2) === '--') {
        $kv = explode('=', substr($a, 2), 2);
        $opt[$kv[0]] = count($kv) == 2 ? $kv[1] : true;
    } else {
        $pos[] = $a;
    }
}
if (count($pos) != 4) {
    fwrite(STDERR, "usage: php pay.php BASE_URL API_KEY USERNAME AMOUNT [options]\n");
    exit(2);
}
list($base, $key, $username, $amount) = $pos;
if (!function_exists('curl_init')) {
    fwrite(STDERR, "pay.php: the curl extension is missing (php-curl)\n");
    exit(2);
}

$data = [
    'username' => $username,
    'amount' => isset($opt['number']) ? $amount + 0 : $amount,
    'method' => isset($opt['method']) ? $opt['method'] : 'PHP',
    'memo' => isset($opt['memo']) ? $opt['memo'] : 'added by pay.php',
    'affiliate_commission' => 0,
];
if (isset($opt['external-id'])) {
    $data['external_id'] = $opt['external-id'];
}
$headers = ['X-Api-Key: ' . $key, 'Accept: application/json'];
if (isset($opt['idempotency-key'])) {
    $headers[] = 'Idempotency-Key: ' . $opt['idempotency-key'];
}
if (isset($opt['form'])) {
    $body = http_build_query($data);
    $headers[] = 'Content-Type: application/x-www-form-urlencoded';
} elseif (isset($opt['multipart'])) {
    $body = array_map('strval', $data);   /* curl builds multipart/form-data */
} else {
    $body = json_encode($data);
    $headers[] = 'Content-Type: application/json';
}
$path = isset($opt['deduct']) ? '/payments/deduct' : '/payments/add';

$ch = curl_init(rtrim($base, '/') . $path);
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => $body,
    CURLOPT_HTTPHEADER => $headers,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_CONNECTTIMEOUT => 10,
    CURLOPT_TIMEOUT => 20,
]);
$resp = curl_exec($ch);
if ($resp === false) {
    fwrite(STDERR, 'pay.php: curl: ' . curl_error($ch) . "\n");
    exit(2);
}
$http = curl_getinfo($ch, CURLINFO_HTTP_CODE);
curl_close($ch);

$r = json_decode($resp, true);
if (!is_array($r)) {
    fwrite(STDERR, "pay.php: HTTP $http, not JSON: " . substr($resp, 0, 200) . "\n");
    exit(2);
}
$d = isset($r['data']) && is_array($r['data']) ? $r['data'] : [];
echo json_encode([
    'http' => $http,
    'error_code' => isset($r['error_code']) ? $r['error_code'] : null,
    'error_message' => isset($r['error_message']) ? $r['error_message'] : null,
    'payment_id' => isset($d['payment_id']) ? $d['payment_id'] : null,
    'balance' => isset($d['user']['balance']) ? $d['user']['balance'] : null,
    'duplicate' => isset($d['duplicate']) ? $d['duplicate'] : null,
]), "\n";
exit(isset($r['error_code']) && $r['error_code'] === 0 ? 0 : 1);
