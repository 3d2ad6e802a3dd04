#!/usr/bin/env bash
# Regenerates the small media fixtures in fixtures/ with Debian's ffmpeg.
# The product never runs ffmpeg; only this script and the tests do.
set -euo pipefail
cd "$(dirname "$0")/../fixtures"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
common_v=(-c:v libx264 -preset veryfast -tune zerolatency -profile:v main -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 -b:v 400k -maxrate 400k -bufsize 800k -bf 2)
common_a=(-c:a aac -b:a 64k -ar 48000 -ac 2)
# Primary: 20 s, 320x180, 25 fps, 2 s GOP, H.264 + AAC, default PIDs.
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=20" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=20" \
   "${common_v[@]}" "${common_a[@]}" -f mpegts main.ts
# Backup: different PIDs and a completely different timeline.
ff -f lavfi -i "smptebars=size=320x180:rate=25:duration=20" -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=20" \
   "${common_v[@]}" "${common_a[@]}" -mpegts_start_pid 0x300 -output_ts_offset 5000 -f mpegts backup.ts
# Backup with another resolution (same codecs).
ff -f lavfi -i "testsrc=size=480x270:rate=25:duration=20" -f lavfi -i "sine=frequency=550:sample_rate=48000:duration=20" \
   "${common_v[@]}" "${common_a[@]}" -output_ts_offset 300 -f mpegts backup_480p.ts
# Backup with another codec (MPEG-2 video + MP2 audio: forces a new muxer).
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=20" -f lavfi -i "sine=frequency=330:sample_rate=48000:duration=20" \
   -c:v mpeg2video -g 50 -b:v 600k -c:a mp2 -b:a 128k -f mpegts other_codec.ts
# Extra streams: two audio tracks (the second must be dropped).
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=20" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=20" \
   -f lavfi -i "sine=frequency=880:sample_rate=48000:duration=20" -map 0:v -map 1:a -map 2:a \
   "${common_v[@]}" "${common_a[@]}" -f mpegts two_audio.ts
# Not media: what a provider sends when an account is suspended.
cat > suspended.html <<'HTML'
<!DOCTYPE html>
<html><head><title>Account suspended</title></head>
<body><h1>Your account has been suspended</h1><p>Please contact your reseller.</p></body></html>
HTML
ls -l
# Near the 33-bit PTS wrap (2^33 / 90 kHz = 95443.7 s): wraps 4 s in.
ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=10" -f lavfi -i "sine=frequency=500:sample_rate=48000:duration=10" \
   "${common_v[@]}" "${common_a[@]}" -output_ts_offset 95439.7 -f mpegts wrap.ts
