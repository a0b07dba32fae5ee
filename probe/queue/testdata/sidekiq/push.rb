# Pushes jobs with Sidekiq's own client, as an application would, then
# prints what Sidekiq's API says about the queue, as JSON on one line.
# Usage: REDIS_URL=redis://... ruby push.rb QUEUE COUNT
require "json"
require "sidekiq"
require "sidekiq/api"

queue, count = ARGV[0], Integer(ARGV[1])
count.times do |i|
  Sidekiq::Client.push("class" => "HardJob", "queue" => queue, "args" => [i])
end
# One job in the retry set and one dead, the way Sidekiq's retry code
# stores them: JSON payloads in sorted sets.
failed = {"class" => "HardJob", "queue" => queue, "args" => [], "jid" => "f" * 24,
          "error_class" => "RuntimeError", "error_message" => "boom", "retry_count" => 1}
Sidekiq.redis { |c| c.zadd("retry", Time.now.to_f + 60, Sidekiq.dump_json(failed)) }
Sidekiq::DeadSet.new.kill(Sidekiq.dump_json(failed.merge("jid" => "d" * 24)), notify_failure: false)
sleep 0.25 # let the oldest job age

q = Sidekiq::Queue.new(queue)
# Queue#latency reads the clock itself, somewhere between these two.
now = Time.now.to_f
latency = q.latency
later = Time.now.to_f
puts JSON.generate("size" => q.size, "latency" => latency, "now" => now, "later" => later,
                   "retry" => Sidekiq::RetrySet.new.size, "dead" => Sidekiq::DeadSet.new.size)
