-- wrk-xmlrpc.lua - POST supervisord's XML-RPC supervisor.getAllProcessInfo, the
-- closest equivalent of instanced's GET /api/v1/health (state of every process).
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml"
wrk.body = "<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo" ..
           "</methodName><params></params></methodCall>"
