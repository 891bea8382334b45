#!/usr/bin/perl
# geo/build-sample.pl — compiles the text network list (geo/sample.txt) into a
# MaxMind DB file with Debian's libmaxmind-db-writer-perl. The output is
# committed; the build never runs this.
#
#   perl geo/build-sample.pl [--ipv4-only] SOURCE.txt OUTPUT.mmdb
#
# --ipv4-only writes an ip_version 4 tree and skips IPv6 networks (the
# tests/fixtures/geo/v4only.mmdb fixture).
use strict;
use warnings;

use Getopt::Long;
use MaxMind::DB::Writer::Tree;

my $ipv4_only = 0;
GetOptions('ipv4-only' => \$ipv4_only)
    or die "usage: $0 [--ipv4-only] SOURCE.txt OUTPUT.mmdb\n";
@ARGV == 2 or die "usage: $0 [--ipv4-only] SOURCE.txt OUTPUT.mmdb\n";
my ($source, $output) = @ARGV;

my %types = (
    continent          => 'map',
    country            => 'map',
    registered_country => 'map',
    code               => 'utf8_string',
    iso_code           => 'utf8_string',
    country_code       => 'utf8_string',
    note               => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => $ipv4_only ? 4 : 6,
    record_size              => 24,
    database_type            => $ipv4_only ? 'GeoVIP-Sample-Country-IPv4'
                                           : 'GeoVIP-Sample-Country',
    languages                => ['en'],
    description              => { en => 'geovip sample database (fake data)' },
    # Loopback and documentation ranges are the whole point of the sample.
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => $ipv4_only ? 0 : 1,
    map_key_type_callback    => sub {
        my $type = $types{ $_[0] };
        defined $type or die "$source: no type for key '$_[0]'\n";
        return $type;
    },
);

# Turns one "key=value" field into its place in the record.
sub add_field {
    my ($record, $key, $value, $where) = @_;
    if ($key eq 'continent') {
        $record->{continent} = { code => uc $value };
    } elsif ($key eq 'country') {
        $record->{country} = { iso_code => uc $value };
    } elsif ($key eq 'registered_country') {
        $record->{registered_country} = { iso_code => uc $value };
    } elsif ($key eq 'country_code') {
        $record->{country_code} = uc $value;
    } elsif ($key eq 'note') {
        $record->{note} = $value;
    } else {
        die "$where: unknown key '$key' (continent, country, "
            . "registered_country, country_code, note)\n";
    }
}

open my $in, '<', $source or die "$source: cannot open: $!\n";
my $count = 0;
while (my $line = <$in>) {
    my $where = "$source:$.";
    $line =~ s/#.*//;
    my ($network, @fields) = split ' ', $line;
    next unless defined $network;
    $network =~ m{^[0-9a-fA-F:.]+/\d+$}
        or die "$where: '$network' is not a network in CIDR notation\n";
    next if $ipv4_only && $network =~ /:/;
    @fields or die "$where: no fields after the network\n";
    my %record;
    for my $field (@fields) {
        my ($key, $value) = $field =~ /^([a-z_]+)=(\S+)$/
            or die "$where: '$field' is not key=value\n";
        add_field(\%record, $key, $value, $where);
    }
    $tree->insert_network($network, \%record);
    $count++;
}
close $in;

open my $out, '>:raw', $output or die "$output: cannot create: $!\n";
$tree->write_tree($out);
close $out or die "$output: write failed: $!\n";
print "$output: $count networks\n";
