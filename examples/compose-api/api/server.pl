# A tiny HTTP server on port 8080. It takes a moment before it listens, as a
# database would: the dev service may only start once the healthcheck has
# seen it answer.
use strict;
use IO::Socket::INET;
$| = 1;
$SIG{TERM} = $SIG{INT} = sub { print "api stopping\n"; exit 0 };
my $delay = $ENV{API_STARTUP_DELAY} // 2;
print "api starting (ready in ${delay}s)\n";
sleep $delay;
my $l = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "api listening on 8080\n";
while (my $c = $l->accept) {
    # Read the whole request before answering: closing a connection with
    # unread data resets it, and the client may still be writing.
    my $req = <$c>;
    while (defined $req) {
        my $line = <$c>;
        last if !defined $line || $line =~ /^\r?\n$/;
    }
    print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from api\n";
    close $c;
    print "api answered ", ($req // "a probe\n");
}
