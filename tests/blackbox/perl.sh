#!/usr/bin/env bash
# Black-box test: perl with big hashes, regexes (captures, substitutions,
# split), string building, sorting, nested data structures (hashes of arrays
# of hashes, a deep binary tree), deep copies with Storable, Data::Dumper and
# MD5 digests.  Output is deterministic (keys are always sorted).
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init perl
bb_need /usr/bin/perl

cat >"$BB_TMP/input/work.pl" <<'PL'
use strict;
use warnings;
use Data::Dumper;
use Digest::MD5 qw(md5_hex);
use List::Util qw(sum0 max min);
use Storable qw(dclone freeze thaw);

$Data::Dumper::Sortkeys = 1;
$Data::Dumper::Indent   = 1;

# 32-bit LCG: deterministic, independent of perl's hash seed.
my $state = 20240601;
sub rnd { $state = ($state * 1103515245 + 12345) % 2147483648; return $state >> 4; }

my @syll = qw(ka lo mi nu pe ra si to vu xe za bo cu de fi);
sub word {
    my $n = 1 + rnd() % 4;
    return join '', map { $syll[rnd() % @syll] } 1 .. $n;
}

# 1. Word frequencies over 600k generated words.
my %freq;
my @text;
for my $i (1 .. 20_000) {
    my $line = join ' ', map { word() } 1 .. 20;
    push @text, $line;
    $freq{$_}++ for split / /, $line;
}
my @top = (sort { $freq{$b} <=> $freq{$a} || $a cmp $b } keys %freq)[0 .. 9];
print "words ", scalar(keys %freq), " total ", sum0(values %freq), "\n";
print "top $_ $freq{$_}\n" for @top;

# 2. Regexes: captures, substitutions, transliteration, global matches.
my ($caps, $subs, $tr) = (0, 0, 0);
my %bigram;
for my $line (@text) {
    while ($line =~ /\b(\w)(\w*?)(ka|lo)\b/g) { $caps += length($1) + length($2) + length($3); }
    (my $copy = $line) =~ s/(\w+)/\u$1/g;
    $subs += ($copy =~ s/([klmnp])([aeiou])/$2$1/g) || 0;
    $tr += ($copy =~ tr/a-m/N-Z/);
    my @w = split ' ', $line;
    $bigram{"$w[$_] $w[$_+1]"}++ for 0 .. $#w - 1;
}
print "regex caps $caps subs $subs tr $tr bigrams ", scalar(keys %bigram), "\n";
my @bg = grep { $bigram{$_} > 2 } sort keys %bigram;
print "bigrams>2 ", scalar(@bg), " first ", ($bg[0] // '-'), " last ", ($bg[-1] // '-'), "\n";
undef %bigram;

# 3. String building: a large string grown by appends, then sprintf/pack.
my $big = '';
for my $i (1 .. 200_000) {
    $big .= sprintf("%06d:%s;", $i, $syll[$i % @syll] x (1 + $i % 5));
}
print "big length ", length($big), " md5 ", md5_hex($big), "\n";
my $packed = pack('(N n/a*)*', map { ($_, "item$_") } 1 .. 50_000);
my @un = unpack('(N n/a*)*', $packed);
print "pack ", length($packed), " unpack ", scalar(@un), " last $un[-1]\n";
my $rev = join '', reverse split //, substr($big, 0, 100_000);
print "rev md5 ", md5_hex($rev), "\n";

# 4. Nested data: hash of arrays of hashes.
my %db;
for my $i (1 .. 40_000) {
    my $k = 'g' . (rnd() % 300);
    push @{ $db{$k} }, { id => $i, name => word(), tags => [ map { word() } 1 .. (1 + $i % 4) ],
                         meta => { n => $i % 17, s => "x" x ($i % 30) } };
}
my $nrec = sum0(map { scalar @$_ } values %db);
my $ntag = sum0(map { scalar @{ $_->{tags} } } map { @$_ } values %db);
print "db groups ", scalar(keys %db), " records $nrec tags $ntag\n";
for my $g ((sort keys %db)[0 .. 4]) {
    my @recs = sort { $a->{name} cmp $b->{name} || $a->{id} <=> $b->{id} } @{ $db{$g} };
    printf "group %s n=%d first=%s/%d maxmeta=%d\n", $g, scalar(@recs), $recs[0]{name}, $recs[0]{id},
        max(map { $_->{meta}{n} } @recs);
}
my $copy = dclone(\%db);
delete $db{$_} for grep { /7/ } keys %db;
my $frozen = freeze($copy);
my $thawed = thaw($frozen);
print "clone groups ", scalar(keys %$copy), " after delete ", scalar(keys %db),
      " thawed ", scalar(keys %$thawed), "\n";
my $dump = Data::Dumper->new([ { map { $_ => $thawed->{$_} } (sort keys %$thawed)[0 .. 2] } ])->Dump;
print "dumper length ", length($dump), " md5 ", md5_hex($dump), "\n";
undef $copy; undef $thawed; undef %db;

# 5. A deep binary tree built and torn down several times.
sub build {
    my ($d, $v) = @_;
    return { v => $v } if $d == 0;
    return { v => $v, l => build($d - 1, 2 * $v), r => build($d - 1, 2 * $v + 1) };
}
sub walk {
    my ($t) = @_;
    return 0 unless $t;
    return $t->{v} % 1009 + walk($t->{l}) + walk($t->{r});
}
for my $round (1 .. 4) {
    my $t = build(14 + $round % 2, $round);
    print "tree $round ", walk($t), "\n";
}

# 6. Sorting: numeric, string, Schwartzian transform, big array.
my @nums = map { rnd() } 1 .. 150_000;
my @sn = sort { $a <=> $b } @nums;
my @ss = sort @nums;
my @st = map { $_->[1] } sort { $a->[0] cmp $b->[0] || $a->[1] <=> $b->[1] }
         map { [ scalar reverse("$_"), $_ ] } @nums[0 .. 59_999];
print "sort num $sn[0] $sn[75000] $sn[-1] str $ss[0] $ss[-1] st $st[0] $st[-1]\n";
print "sort md5 ", md5_hex(join ',', @sn[0 .. 9999]), " ", md5_hex(join ',', @st), "\n";

# 7. Local arrays and hashes created and freed in a loop.
my $acc = 0;
for my $i (1 .. 1000) {
    my %h = map { ("k$_" => [ $_, "v" x ($_ % 7) ]) } 1 .. 50 + $i % 50;
    my @a = grep { $_->[0] % 3 } values %h;
    $acc += @a + length(join '', sort map { $_->[1] } @a);
}
print "loop $acc\n";
print "done\n";
PL

BB_ENV=(PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0)
bb_run_both /usr/bin/perl work.pl
bb_compare
bb_expect_re '^db groups 300 records 40000 '
bb_expect_line 'done'
bb_pass
