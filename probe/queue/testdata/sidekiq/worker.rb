# A Sidekiq worker class for the tests: sidekiq -r ./worker.rb -q QUEUE
class HardJob
  include Sidekiq::Worker

  def perform(*)
  end
end
