package lib.net;

import java.math.BigInteger;
import java.net.IDN;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * NO_PROXY as Go reads it (golang.org/x/net/http/httpproxy), so that a pod the OpenShift Pipelines
 * operator set up for the Go tool reaches the same hosts directly here: a comma list where {@code *}
 * matches every host; an IP address ({@code 10.1.2.3}, {@code [::1]:8080}) or a CIDR range
 * ({@code 10.0.0.0/16}) matches a host written as an address, never a name (no lookup is made); a
 * domain ({@code corp.com}, {@code *.corp.com}) matches itself and its subdomains, and with a leading
 * dot ({@code .svc}) its subdomains only; a port after an address or a domain limits the entry to that
 * port. Whatever the list, {@code localhost} and loopback addresses are never proxied.
 */
final class NoProxy {

    /** One entry of the list. */
    private interface Entry {
        boolean matches(String host, int port, byte[] address);
    }

    private final boolean all;
    private final List<Entry> entries;

    private NoProxy(boolean all, List<Entry> entries) {
        this.all = all;
        this.entries = entries;
    }

    /** The list as written in NO_PROXY (null or blank for none); an entry that is no address, range or domain is ignored, as Go does. */
    static NoProxy parse(String list) {
        var entries = new ArrayList<Entry>();
        if (list == null) {
            return new NoProxy(false, entries);
        }
        for (String raw : list.split(",")) {
            String entry = raw.trim().toLowerCase(Locale.ROOT);
            if (entry.isEmpty()) {
                continue;
            }
            if (entry.equals("*")) {
                return new NoProxy(true, List.of());
            }
            int slash = entry.indexOf('/');
            if (slash > 0) {
                byte[] network = literal(entry.substring(0, slash));
                Integer bits = bits(entry.substring(slash + 1), network);
                if (network != null && bits != null) {
                    entries.add((host, port, address) -> address != null && address.length == network.length
                            && samePrefix(address, network, bits));
                }
                continue;
            }
            String host = entry;
            int port = -1;
            int colon = entry.lastIndexOf(':');
            boolean bracketed = entry.startsWith("[");
            if (bracketed ? entry.indexOf("]:") > 0 : colon > 0 && entry.indexOf(':') == colon) {
                Integer parsed = port(entry.substring(colon + 1));
                if (parsed == null) {
                    continue; // not host:port, and no address or domain has a ':' besides: malformed
                }
                host = entry.substring(0, colon);
                port = parsed;
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            if (host.isEmpty()) {
                continue;
            }
            int only = port;
            byte[] ip = literal(host);
            if (ip != null) {
                entries.add((h, p, address) -> address != null && Arrays.equals(address, ip) && (only < 0 || only == p));
                continue;
            }
            if (host.startsWith("*.")) {
                host = host.substring(1);
            }
            boolean itselfToo = !host.startsWith(".");
            String suffix = ascii(itselfToo ? "." + host : host);
            entries.add((h, p, address) -> (h.endsWith(suffix) || itselfToo && h.equals(suffix.substring(1)))
                    && (only < 0 || only == p));
        }
        return new NoProxy(false, entries);
    }

    /** Whether a request to this host and port goes to the proxy. */
    boolean proxied(String host, int port) {
        String name = ascii(host.toLowerCase(Locale.ROOT).trim());
        if (name.startsWith("[") && name.endsWith("]")) {
            name = name.substring(1, name.length() - 1);
        }
        if (name.equals("localhost")) {
            return false;
        }
        byte[] address = literal(name);
        if (address != null && isLoopback(address)) {
            return false;
        }
        if (all) {
            return false;
        }
        for (Entry entry : entries) {
            if (entry.matches(name, port, address)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isLoopback(byte[] address) {
        try {
            return InetAddress.getByAddress(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** The address a host written as an IPv4 or IPv6 literal stands for, or null for a name: no lookup is ever made. */
    static byte[] literal(String host) {
        if (host.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            byte[] bytes = new byte[4];
            String[] parts = host.split("\\.");
            for (int i = 0; i < 4; i++) {
                int value = Integer.parseInt(parts[i]);
                if (value > 255) {
                    return null;
                }
                bytes[i] = (byte) value;
            }
            return bytes;
        }
        if (host.indexOf(':') >= 0 && host.matches("[0-9a-fA-F:.]+")) {
            try {
                // Hex digits, colons and dots are parsed as a literal, never looked up; ::ffff:a.b.c.d
                // comes back as its IPv4 address, equal to it as in Go.
                return InetAddress.getByName(host).getAddress();
            } catch (UnknownHostException e) {
                return null;
            }
        }
        return null;
    }

    private static Integer bits(String text, byte[] network) {
        if (network == null || !text.matches("\\d{1,3}")) {
            return null;
        }
        int bits = Integer.parseInt(text);
        return bits <= network.length * 8 ? bits : null;
    }

    private static boolean samePrefix(byte[] address, byte[] network, int bits) {
        BigInteger mask = bits == 0 ? BigInteger.ZERO
                : BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE).shiftLeft(network.length * 8 - bits);
        return new BigInteger(1, address).and(mask).equals(new BigInteger(1, network).and(mask));
    }

    private static Integer port(String text) {
        if (!text.matches("\\d{1,5}")) {
            return null;
        }
        int port = Integer.parseInt(text);
        return port <= 65535 ? port : null;
    }

    /** A name in its ASCII (punycode) form, as Go's idna.Lookup.ToASCII gives it; a name that has none is kept. */
    static String ascii(String name) {
        if (name.chars().allMatch(c -> c < 0x80)) {
            return name;
        }
        try {
            return IDN.toASCII(name, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            return name;
        }
    }
}
