# Asks the api service once — no retry: hpr started this container only
# after api's healthcheck passed — and keeps the answer in the project, where
# it is owned by you.
exec 3<>/dev/tcp/api/8080
printf 'GET / HTTP/1.0\r\nHost: api\r\n\r\n' >&3
response=$(cat <&3)
printf '%s\n' "${response#*$'\r\n\r\n'}" | tee from-api.txt
