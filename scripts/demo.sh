#!/usr/bin/env bash
# make demo: a throw-away Maildir, one user, and the server standalone on 127.0.0.1:1110.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="$root/demo"
port="${DEMO_PORT:-1110}"
user=demo
password=demo-pw

rm -rf "$demo"
mkdir -p "$demo/conf" "$demo/mail/$user/Maildir/"{cur,new,tmp}
cat > "$demo/imapd.conf" <<CONF
# Demo configuration: plaintext logins allowed because the demo has no TLS certificate.
configdirectory: $demo/conf
servername: localhost
pop3_mailstore: maildir
pop3_maildir_path: $demo/mail/%u/Maildir
pop3_passwd_file: $demo/passwd
allowplaintext: yes
# serve as whoever started the demo (Cyrus itself refuses root; see pop3_run_as)
pop3_run_as: $(id -un)
CONF
printf '%s:{PLAIN}%s\n' "$user" "$password" > "$demo/passwd"

now=$(date +%s)
for n in 1 2 3; do
  name="$((now + n)).M${n}P$$.localhost"
  {
    printf 'From: Demo Sender <sender@example.org>\r\n'
    printf 'To: %s@localhost\r\n' "$user"
    printf 'Subject: Demo message %d\r\n' "$n"
    printf 'Date: %s\r\n' "$(date -R)"
    printf 'Message-ID: <demo-%d-%d@localhost>\r\n\r\n' "$n" "$now"
    printf 'Hello! This is demo message %d, served by pop3d.\r\n' "$n"
    printf '.A line starting with a dot, to show dot-stuffing.\r\n'
  } > "$demo/mail/$user/Maildir/new/$name"
done

cat <<INFO

  pop3d demo — a Maildir with 3 messages for user "$user" (password "$password").

  Try it from another terminal:
    curl pop3://$user:$password@127.0.0.1:$port/        # list messages
    curl pop3://$user:$password@127.0.0.1:$port/1       # fetch message 1
    python3 -c "import poplib; p=poplib.POP3('127.0.0.1',$port); p.user('$user'); p.pass_('$password'); print(p.stat()); p.quit()"
  Thunderbird / any mail client: POP3 server 127.0.0.1, port $port, no encryption,
  normal password, user "$user".

  Config: $demo/imapd.conf    Mail: $demo/mail/$user/Maildir    Stop with Ctrl-C.

INFO
exec "$root/dist/pop3d" -C "$demo/imapd.conf" --listen "127.0.0.1:$port"
